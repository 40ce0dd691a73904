"""nbgrader for an instructor's server on the course's hub: the course root and its exchange service.

Loaded from JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it per role), so
Formgrader finds the course whatever folder the server starts in: the
course's own assignments/nbgrader_config.py is read from COURSE_ROOT. The
exchange is the hub service ngshare (``COURSE_EXCHANGE_URL``); the course's
``make release/collect/feedback`` use it through
course_utils.grading.exchange_service.
"""
import os

import ngshare_exchange

c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)
load_subconfig(os.path.join(os.environ["COURSE_ROOT"], "assignments", "nbgrader_config.py"))  # noqa: F821
ngshare_exchange.configureExchange(c, os.environ.get("COURSE_EXCHANGE_URL"))
