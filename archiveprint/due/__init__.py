"""Who is due for which service this month (service schedules as data) and the monthly work packet (本月随访包)."""
