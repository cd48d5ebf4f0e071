package web

import "net"

func net_ParseCIDR(s string) (net.IP, []*net.IPNet, error) {
	ip, n, err := net.ParseCIDR(s)
	return ip, []*net.IPNet{n}, err
}
