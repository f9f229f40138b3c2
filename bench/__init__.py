"""`make bench`: matching, planning and delivery figures, printed and written as JSON."""

import warnings

# Starlette's TestClient warns about its httpx transport on import; it says nothing about us.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
