from dialogtui.cli import main

raise SystemExit(main())
