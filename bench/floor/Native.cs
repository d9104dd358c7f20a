using System.Runtime.InteropServices;

namespace FloorProxy;

/// <summary>struct epoll_event on x86-64: packed, 12 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

/// <summary>struct sockaddr_in (16 bytes); port and address in network byte order.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockAddrIn
{
    public ushort Family;
    public ushort PortBE;
    public uint AddrBE;
    public ulong Zero;
}

/// <summary>The libc calls the event loop makes, and the Linux x86-64 constants they take.</summary>
internal static unsafe partial class Native
{
    public const int AF_INET = 2;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_REUSEPORT = 15;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const uint EPOLLIN = 0x1;
    public const uint EPOLLOUT = 0x4;
    public const uint EPOLLERR = 0x8;
    public const uint EPOLLHUP = 0x10;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;
    public const int MSG_PEEK = 0x2;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EINPROGRESS = 115;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, int* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, SockAddrIn* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int accept4(int fd, SockAddrIn* address, uint* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int fd, SockAddrIn* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static void SetInt(int fd, int level, int name, int value)
    {
        if (setsockopt(fd, level, name, &value, sizeof(int)) != 0)
        {
            throw new InvalidOperationException($"setsockopt({level}, {name}) failed: errno {Errno}");
        }
    }

    public static SockAddrIn Address(uint addrHostOrder, int port) => new()
    {
        Family = AF_INET,
        PortBE = (ushort)((port >> 8) | ((port & 0xFF) << 8)),
        AddrBE = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(addrHostOrder),
    };
}
