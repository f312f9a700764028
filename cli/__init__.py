"""The ``aigclabel`` command line: click commands only (parse, call the library, render)."""
