"""The content calendar: scheduled posts, their approval, publishing and images."""
