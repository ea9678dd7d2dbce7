"""The WSGI entry point for production servers: `gunicorn 'lti_tool.wsgi:app'`.

Settings come from the environment (LTI_TOOL_*); run `lti-tool db upgrade` before starting.
"""

from lti_tool.app import create_app
from lti_tool.jobs.tasks import resume_after_restart
from lti_tool.web.context import app_runtime

app = create_app()
if app_runtime(app).redis is None:
    # jobs run in this process: post what a killed one left behind
    resume_after_restart(app_runtime(app))
