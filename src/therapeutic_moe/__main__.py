from therapeutic_moe.cli import main

raise SystemExit(main())
