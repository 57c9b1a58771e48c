"""Forms of flows (表单): field kinds and the server's check of what is submitted."""
