"""The course notes' lessons as runnable experiments: each a stage with a report and a plot."""
