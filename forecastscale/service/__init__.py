"""The live loop: ticks over targets, leader election, plan persistence, own metrics and HTTP."""
