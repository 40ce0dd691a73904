"""nbgrader for a student's server on the course's hub: the course and its exchange service, nothing else.

Loaded from JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it per role). The
exchange is the hub service ngshare (``COURSE_EXCHANGE_URL``), reached with
the server's own JupyterHub token: fetch, submit, fetch feedback and the
Assignments tab go through it, and the service, not this server, decides who
submitted and when.
"""
import os

import ngshare_exchange

c = get_config()  # noqa: F821 (traitlets provides it when it loads this file)
c.CourseDirectory.course_id = "deep-learning-course"
ngshare_exchange.configureExchange(c, os.environ.get("COURSE_EXCHANGE_URL"))
