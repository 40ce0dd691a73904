"""nbgrader configuration for a Jupyter server started at the repository root.

``make lab`` starts JupyterLab here; nbgrader's formgrader reads
nbgrader_config.py from the server's working directory, so this file points it
at the course, whose own configuration sets the course root to ``assignments/``.
"""
c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)
load_subconfig("assignments/nbgrader_config.py")  # noqa: F821 (likewise)
