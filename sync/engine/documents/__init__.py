"""Documents: PDFs and images that arrive through any source, and what they belong to.

incoming   a document file's batch: the Document row, linked if anything says how
manifests  a manifest's batch: its rows stored, the files they name linked
links      the linking rules, documents waiting for their record, the admin's list
"""
