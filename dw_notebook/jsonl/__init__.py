"""The Batch API's JSONL wire format in both directions, pure (no HTTP, no widgets).

- ``requests``: DataFrame -> request lines, validated before anything is sent.
- ``results``: output and error lines -> typed columns joined onto the DataFrame by custom_id.
"""
