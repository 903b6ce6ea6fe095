"""The wheel's packages, found rather than listed (pyproject.toml holds everything else about the build).

setuptools' `packages.find` cannot also name a package whose folder is elsewhere, and the dbt project is one: dbt/ is
installed as `restaurant_pipeline.dbt_project` (pyproject.toml's package-dir) so that no top-level `dbt` shadows
dbt-core. A new package under contracts/, services/ or restaurant_pipeline/ needs no edit here.
"""

from setuptools import find_packages, setup

PRODUCT = ("contracts", "services", "restaurant_pipeline")

setup(
    packages=[*find_packages(include=[*PRODUCT, *(f"{name}.*" for name in PRODUCT)]), "restaurant_pipeline.dbt_project"]
)
