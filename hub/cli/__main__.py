# SPDX-License-Identifier: Apache-2.0
"""``python -m hub.cli``: the same as ``tipshare-hub``."""

import sys

from hub.cli import main

if __name__ == "__main__":  # imported (by pkgutil.walk_packages, say), it runs nothing
    sys.exit(main())
