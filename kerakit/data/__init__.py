"""Data: dataset loading (`datasets`), preprocessing, text and features."""
