"""Compiled Jinja templates kept in memory, shared by every language's environment.

Each language has its own environment (its own gettext), but the compiled code
of a template does not depend on the language: compiling it once instead of
sixteen times is most of the server's start time. The pages (server/site.py)
and the components' texts files (server/component_texts.py) share this cache.
"""

from __future__ import annotations

import jinja2


class CompiledTemplates(jinja2.BytecodeCache):
    """A bytecode cache in a dict: nothing is written to disk."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


COMPILED = CompiledTemplates()
