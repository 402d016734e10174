"""What is wrong with a user's data or files, said before work is wasted, naming the file, row and column.

The data pipeline (`seqtrain.data`) calls these where it has what they look at: a file's first bytes before
loading (`sniff`, `files`), a table's loaded rows (`tables`), a forecast file's series (`series`), a
datamodule's arguments (`arguments`). `seqtrain.checkpoint` uses `sniff` for checkpoint files too.
"""
