from mmkp.cli.main import main

raise SystemExit(main())
