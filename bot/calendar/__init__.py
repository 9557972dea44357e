"""The content calendar: scheduled posts, their repeats, approval, publishing and images."""
