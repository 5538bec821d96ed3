"""The built-in plugins, one module per registered method (a family of sources per module), each
registered by dotted name exactly like a third-party plugin (``autotl.plugins.BUILTIN_PLUGINS``)."""
