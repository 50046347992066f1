"""The journey as designed: the document and its schemas, case fields, message templates."""
