"""Sites: the archive-keeping institutions (乡镇卫生院、社区卫生服务中心) one installation holds."""
