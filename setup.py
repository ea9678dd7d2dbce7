"""Build step: the wheel carries the top-level migrations/ and static/ inside the package."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("migrations", "static")


class BuildPyWithBundled(build_py):
    """build_py, plus the folders lti_tool.bundled looks for at lti_tool/_bundled/<name>."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders
            return
        for name in BUNDLED:
            target = Path(self.build_lib, "lti_tool", "_bundled", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))


setup(cmdclass={"build_py": BuildPyWithBundled})
