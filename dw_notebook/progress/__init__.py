"""What a job looks like at one moment, and that moment as text.

Snapshots are plain data made by the job layer; the text formatters and the terminal display
are pure readers of them, shared by the job's repr, ``job.wait()`` in scripts and the widgets.
"""
