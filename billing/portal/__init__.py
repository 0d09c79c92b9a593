"""The customer and staff portal: read selectors, pages, fragments, charts and the JSON APIs."""
