"""The camera host's pipeline: captured frame -> processed image -> local asset -> upload queue."""
