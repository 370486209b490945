"""Supervision indicators: 常住人口 per village and year, 建档率 against the year's targets, 纸质档案在架率."""
