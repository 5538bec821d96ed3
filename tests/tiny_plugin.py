"""A plugin offering the tiny test model as source ``tiny``; its 'pretrained' file is $AUTOTL_TINY_CHECKPOINT.

Registered in-process by the tests, and installed as an entry point for the
subprocesses that must see it too.
"""

import os
from pathlib import Path

from fakes import FakeSource

import autotl

SOURCE = FakeSource("tiny", offers=("source_head", "blocks"))


@autotl.hookimpl
def register_sources(register):
    SOURCE.checkpoint = Path(os.environ["AUTOTL_TINY_CHECKPOINT"])
    register(SOURCE)
