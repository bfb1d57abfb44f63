"""One model as a pipeline over several devices: costs, cluster, plan search and stage layout."""
