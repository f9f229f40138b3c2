from outage_notify.cli import main

raise SystemExit(main())
