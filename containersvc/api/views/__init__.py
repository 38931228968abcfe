"""The API's views, one module per area; each view validates, calls one service or selector, renders."""
