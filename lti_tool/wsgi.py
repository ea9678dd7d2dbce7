"""The WSGI entry point for production servers: `gunicorn 'lti_tool.wsgi:app'`.

Settings come from the environment (LTI_TOOL_*); run `lti-tool db upgrade` before starting.
"""

from lti_tool.app import create_app

app = create_app()
