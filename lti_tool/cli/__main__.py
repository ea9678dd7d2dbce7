"""`python -m lti_tool.cli`: the same command as `lti-tool`."""

import sys

from lti_tool.cli import main

sys.exit(main())
