"""Object detection: Faster R-CNN and RetinaNet from parts, and COCO evaluation."""
