"""Plugins that ship inside the kernel distribution.

They are registered through the ``supervm.plugins`` entry points of the ``supervm``
distribution, exactly like third-party plugins.
"""
