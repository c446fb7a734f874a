"""Your code, in modules the template renders once and never again.

``copier update`` skips every file in this package (``_skip_if_exists``), so what you
write here never merges with a template release. The template's modules import it:

- :mod:`.routes`: your routes, behind the whole security stack;
- :mod:`.settings`: your settings, read and validated like the template's;
- :mod:`.lifespan`: your start-up and shutdown work.

Keep your edits here and in new modules of your own; never edit ``security/``.
"""
