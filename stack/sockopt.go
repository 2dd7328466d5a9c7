package stack

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zcsocket"
)

// SetSockOptInt sets an integer option, as setsockopt(2) with a 4-byte int.
func (so *Socket) SetSockOptInt(level, name, v int) error {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(int32(v)))
	return so.SetSockOpt(level, name, b[:])
}

// SetSockOpt sets an option from its raw value, as setsockopt(2) with
// optval and optlen len(val), with Linux's length rules: SOL_SOCKET, TCP and
// IPv6 options need at least 4 bytes (EINVAL) and read the first 4; IP
// options also take a 1-byte value, and no value at all means 0. Supported:
// SOL_SOCKET SO_ZEROCOPY, SO_SNDBUF, SO_RCVBUF, SO_RCVLOWAT, SO_REUSEADDR,
// SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST; IPPROTO_TCP TCP_NODELAY,
// TCP_CORK; SOL_IP IP_RECVERR; SOL_IPV6 IPV6_V6ONLY, IPV6_RECVERR (AF_INET6
// only). Others are ENOPROTOOPT.
func (so *Socket) SetSockOpt(level, name int, val []byte) error {
	if so.closed.Load() {
		return unix.EBADF
	}
	switch level {
	case unix.SOL_SOCKET:
		v, err := intOpt(val)
		if err != nil {
			return err
		}
		return so.setSocketOpt(name, v)
	case unix.IPPROTO_TCP:
		if so.stype != unix.SOCK_STREAM {
			return unix.ENOPROTOOPT
		}
		v, err := intOpt(val)
		if err != nil {
			return err
		}
		return so.setTCPOpt(name, v)
	case unix.SOL_IP:
		return so.setIPOpt(name, val)
	case unix.SOL_IPV6:
		if so.family != unix.AF_INET6 {
			return unix.ENOPROTOOPT
		}
		v, err := intOpt(val)
		if err != nil {
			return err
		}
		return so.setIPv6Opt(name, v)
	default:
		return unix.ENOPROTOOPT
	}
}

// intOpt reads an int option value: EINVAL if shorter than an int
// (sk_setsockopt, do_tcp_setsockopt, do_ipv6_setsockopt).
func intOpt(val []byte) (int32, error) {
	if len(val) < 4 {
		return 0, unix.EINVAL
	}
	return int32(binary.NativeEndian.Uint32(val)), nil
}

// setSocketOpt handles SOL_SOCKET (net/core/sock.c sk_setsockopt).
func (so *Socket) setSocketOpt(name int, v int32) error {
	sops := so.ep.SocketOptions()
	switch name {
	case unix.SO_ZEROCOPY:
		on, err := zcsocket.ZerocopyValue(v)
		if err != nil {
			return err
		}
		so.zc.SetZerocopy(on)
	case unix.SO_SNDBUF:
		lo, hi := sops.SendBufferLimits()
		sops.SetSendBufferSize(clampBufSize(uint32(v), lo, hi), true)
	case unix.SO_RCVBUF:
		lo, hi := sops.ReceiveBufferLimits()
		sops.SetReceiveBufferSize(clampBufSize(uint32(v), lo, hi), true)
	case unix.SO_RCVLOWAT:
		if v < 0 {
			v = math.MaxInt32
		}
		so.rcvlowat.Store(max(v, 1))
	case unix.SO_REUSEADDR:
		sops.SetReuseAddress(v != 0)
	case unix.SO_REUSEPORT:
		sops.SetReusePort(v != 0)
	case unix.SO_KEEPALIVE:
		sops.SetKeepAlive(v != 0)
	case unix.SO_BROADCAST:
		sops.SetBroadcast(v != 0)
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}

// clampBufSize doubles a SO_SNDBUF or SO_RCVBUF value and keeps it within
// netstack's limits, as Linux does with its sysctls (and gVisor's sentry
// with clampBufSize).
func clampBufSize(v uint32, lo, hi int64) int64 {
	sz := min(int64(v), hi) * 2
	return max(min(sz, math.MaxInt32), lo)
}

// setTCPOpt handles IPPROTO_TCP (do_tcp_setsockopt).
func (so *Socket) setTCPOpt(name int, v int32) error {
	sops := so.ep.SocketOptions()
	switch name {
	case unix.TCP_NODELAY:
		sops.SetDelayOption(v == 0)
	case unix.TCP_CORK:
		sops.SetCorkOption(v != 0)
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}

// setIPOpt handles SOL_IP (do_ip_setsockopt), which reads an int, or a
// byte when optlen is shorter, and 0 when optlen is 0.
func (so *Socket) setIPOpt(name int, val []byte) error {
	var v int32
	switch {
	case len(val) >= 4:
		v = int32(binary.NativeEndian.Uint32(val))
	case len(val) >= 1:
		v = int32(val[0])
	}
	switch name {
	case unix.IP_RECVERR:
		so.ep.SocketOptions().SetIPv4RecvError(v != 0)
		if v == 0 {
			so.zc.PurgeErrors()
		}
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}

// setIPv6Opt handles SOL_IPV6 (do_ipv6_setsockopt).
func (so *Socket) setIPv6Opt(name int, v int32) error {
	sops := so.ep.SocketOptions()
	switch name {
	case unix.IPV6_V6ONLY:
		// Linux refuses once the socket is bound (inet_num != 0).
		if fa, err := so.ep.GetLocalAddress(); err == nil && fa.Port != 0 {
			return unix.EINVAL
		}
		sops.SetV6Only(v != 0)
	case unix.IPV6_RECVERR:
		sops.SetIPv6RecvError(v != 0)
		if v == 0 {
			so.zc.PurgeErrors()
		}
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}

// GetSockOptInt returns an integer option, as getsockopt(2): the options
// SetSockOpt supports plus SOL_SOCKET SO_ERROR (which it clears), SO_TYPE,
// SO_DOMAIN, SO_PROTOCOL and SO_ACCEPTCONN. Others are ENOPROTOOPT.
func (so *Socket) GetSockOptInt(level, name int) (int, error) {
	if so.closed.Load() {
		return 0, unix.EBADF
	}
	sops := so.ep.SocketOptions()
	switch {
	case level == unix.SOL_SOCKET:
		return so.getSocketOpt(name)
	case level == unix.IPPROTO_TCP && so.stype == unix.SOCK_STREAM:
		switch name {
		case unix.TCP_NODELAY:
			return boolInt(!sops.GetDelayOption()), nil
		case unix.TCP_CORK:
			return boolInt(sops.GetCorkOption()), nil
		}
	case level == unix.SOL_IP:
		if name == unix.IP_RECVERR {
			return boolInt(sops.GetIPv4RecvError()), nil
		}
	case level == unix.SOL_IPV6 && so.family == unix.AF_INET6:
		switch name {
		case unix.IPV6_V6ONLY:
			return boolInt(sops.GetV6Only()), nil
		case unix.IPV6_RECVERR:
			return boolInt(sops.GetIPv6RecvError()), nil
		}
	}
	return 0, unix.ENOPROTOOPT
}

// GetSockOpt reads an integer option into optval, as getsockopt(2) with
// optlen len(optval), and returns the new optlen. Like Linux it copies at
// most the 4 bytes of the int, and an SOL_IP option asked for with fewer
// than 4 bytes comes back as one byte when its value fits
// (do_ip_getsockopt).
func (so *Socket) GetSockOpt(level, name int, optval []byte) (int, error) {
	v, err := so.GetSockOptInt(level, name)
	if err != nil {
		return 0, err
	}
	if level == unix.SOL_IP && len(optval) > 0 && len(optval) < 4 && v >= 0 && v <= 255 {
		optval[0] = byte(v)
		return 1, nil
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(int32(v)))
	return copy(optval, b[:]), nil
}

// getSocketOpt handles SOL_SOCKET (sk_getsockopt).
func (so *Socket) getSocketOpt(name int) (int, error) {
	sops := so.ep.SocketOptions()
	switch name {
	case unix.SO_ZEROCOPY:
		return boolInt(so.zc.ZerocopyEnabled()), nil
	case unix.SO_SNDBUF:
		return int(sops.GetSendBufferSize()), nil
	case unix.SO_RCVBUF:
		return int(sops.GetReceiveBufferSize()), nil
	case unix.SO_RCVLOWAT:
		return int(so.rcvlowat.Load()), nil
	case unix.SO_REUSEADDR:
		return boolInt(sops.GetReuseAddress()), nil
	case unix.SO_REUSEPORT:
		return boolInt(sops.GetReusePort()), nil
	case unix.SO_KEEPALIVE:
		return boolInt(sops.GetKeepAlive()), nil
	case unix.SO_BROADCAST:
		return boolInt(sops.GetBroadcast()), nil
	case unix.SO_ERROR:
		return int(zcsocket.Errno(so.ep.LastError())), nil
	case unix.SO_TYPE:
		return so.stype, nil
	case unix.SO_DOMAIN:
		return so.family, nil
	case unix.SO_PROTOCOL:
		return so.proto, nil
	case unix.SO_ACCEPTCONN:
		return boolInt(sops.GetAcceptConn()), nil
	}
	return 0, unix.ENOPROTOOPT
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
