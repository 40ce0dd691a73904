"""nbgrader for a student's server on the course's hub: the course and its exchange, nothing else.

Loaded from JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it per role). The
Assignments tab lists this course's homework from the exchange; a student's id
is their Unix user name.
"""
import os

c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)
c.CourseDirectory.course_id = "deep-learning-course"
c.Exchange.root = os.environ.get("COURSE_EXCHANGE") or "/usr/local/share/nbgrader/exchange"
