"""Commands that print far more than a run keeps (the hostile output of issue 11)."""

import sys

# 50 MB of output: 500,000 lines of 100 bytes, written in blocks of 1 MB.
FIFTY_MB_OF_LINES = "import sys\nblock = ('y' * 99 + '\\n') * 10_000\nfor _ in range(50): sys.stdout.write(block)\n"
# 50 MB on one line that never ends.
FIFTY_MB_LINE = "import sys\nblock = 'z' * 1_000_000\nfor _ in range(50): sys.stdout.write(block)\n"
OUTPUT_TRUNCATED_LINE = "[output truncated: more than 1048576 bytes]"


def flood_config(script: str = FIFTY_MB_OF_LINES) -> dict:
    """runner_config of a command agent that prints `script`'s flood."""
    return {"argv": [sys.executable, "-c", script], "timeout": 60}
