from flaudit.cli import main

raise SystemExit(main())
