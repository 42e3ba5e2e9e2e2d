"""Packages for the wheel: app/ as found, plus the top-level migrations/ as app.migrations.

pyproject.toml holds everything else. The mapping lives here because setuptools' pyproject
`packages.find` cannot add a package from another folder, and an explicit list in pyproject
would silently leave out every subpackage added to app/ later.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["app", "app.*"]),
        "app.migrations",
        "app.migrations.versions",
    ],
    package_dir={"app.migrations": "migrations"},
)
