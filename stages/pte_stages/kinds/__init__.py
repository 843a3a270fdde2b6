"""What each model kind does differently in the stages."""
