"""The lab's model of a Windows session host: what Windows and the AVD agent do.

This is the lab's home of Windows knowledge, written from the
troubleshooting article and the facts page; the collection has its own,
and the tests hold one against the other.
"""
