from fixgw.cli import main

raise SystemExit(main())
