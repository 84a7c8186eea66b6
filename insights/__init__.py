"""What the responses say: NPS with intervals, drivers, revenue by category and comment text.

Pure functions over plain data. The engine (``sync``) reads the store and the CRM, hands the rows
here and renders what comes back; nothing here does I/O beyond loading packaged model files.
"""
