"""Where the repository's non-Python assets live (templates, migrations, fixtures).

They sit at the top of the repository, beside the package, as DESIGN.md lays out. An installed
copy (the container image) points OUTAGE_NOTIFY_HOME at the directory that holds them.
"""

import os
from pathlib import Path

HOME = Path(os.environ.get("OUTAGE_NOTIFY_HOME") or Path(__file__).resolve().parent.parent)
TEMPLATES = HOME / "templates"
MIGRATIONS = HOME / "migrations"
ALEMBIC_INI = HOME / "alembic.ini"
FIXTURES = HOME / "fixtures"
STATIC = Path(__file__).resolve().parent / "web" / "static"
