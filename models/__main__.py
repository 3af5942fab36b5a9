"""`python -m models list | download NAME | plan ...`"""

from models.cli import main

raise SystemExit(main())
