using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Loadwise.AotProxy.Listener;

/// <summary>struct epoll_event on x86-64 and arm64 Linux: packed to 12 bytes on x86-64 (the kernel's layout there).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

/// <summary>Room for a sockaddr_in or sockaddr_in6 (28 bytes), as the kernel lays them out.</summary>
[StructLayout(LayoutKind.Sequential, Size = 28)]
internal struct SocketAddressBuffer
{
    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly uint _d;
}

/// <summary>struct iovec: one buffer of a gather send.</summary>
internal unsafe struct IoVector
{
    public byte* Base;
    public nuint Length;
}

/// <summary>
/// struct msghdr on 64-bit Linux, zeroed but for the buffers: glibc's size_t counts and musl's int counts with padding
/// read the same when the padding is zero (little-endian).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MessageHeader
{
    public void* Name;
    public uint NameLength;
    public IoVector* Vectors;
    public nuint VectorCount;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>
/// The Linux system calls the event loop makes (through libc, bound at link time in the native binary), and the
/// constants they take. Raw descriptors, no SafeHandle: the loop owns each descriptor and closes it once, itself.
/// </summary>
internal static unsafe partial class LoopNative
{
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_REUSEPORT = 15;
    public const int IPPROTO_TCP = 6;
    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_V6ONLY = 26;
    public const int TCP_NODELAY = 1;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x1;
    public const uint EPOLLOUT = 0x4;
    public const uint EPOLLERR = 0x8;
    public const uint EPOLLHUP = 0x10;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;
    public const int MSG_PEEK = 0x2;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_NOSIGNAL = 0x4000;
    public const int SHUT_RDWR = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EINPROGRESS = 115;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOBUFS = 105;
    public const int ENOMEM = 12;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, int* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, int* value, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, SocketAddressBuffer* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int listen(int fd, int backlog);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int accept4(int fd, SocketAddressBuffer* address, uint* length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int connect(int fd, SocketAddressBuffer* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockname(int fd, SocketAddressBuffer* address, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint sendmsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Sets an int socket option, failing with the option's name in the message.</summary>
    public static void SetOption(int fd, int level, int name, int value, string what)
    {
        if (setsockopt(fd, level, name, &value, sizeof(int)) != 0)
        {
            throw Failed($"setsockopt({what})", Errno);
        }
    }

    /// <summary>The exception .NET's own sockets would give for <paramref name="errno"/>, with what failed in its message.</summary>
    public static SocketException Failed(string what, int errno) => new((int)ToSocketError(errno), $"{what}: {new SocketException((int)ToSocketError(errno)).Message} (errno {errno})");

    /// <summary>Linux errno values, mapped as .NET's socket code maps them.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        9 => SocketError.OperationAborted, // EBADF: closed under us
        11 => SocketError.WouldBlock,
        12 or 105 => SocketError.NoBufferSpaceAvailable, // ENOMEM, ENOBUFS
        13 => SocketError.AccessDenied,
        23 or 24 => SocketError.TooManyOpenSockets, // ENFILE, EMFILE
        32 => SocketError.Shutdown, // EPIPE
        98 => SocketError.AddressAlreadyInUse,
        99 => SocketError.AddressNotAvailable,
        101 => SocketError.NetworkUnreachable,
        103 => SocketError.ConnectionAborted,
        104 => SocketError.ConnectionReset,
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        111 => SocketError.ConnectionRefused,
        113 => SocketError.HostUnreachable,
        _ => SocketError.SocketError,
    };

    /// <summary>Writes <paramref name="endPoint"/> as a sockaddr; returns its length.</summary>
    public static uint Write(IPEndPoint endPoint, SocketAddressBuffer* address)
    {
        var bytes = new Span<byte>(address, sizeof(SocketAddressBuffer));
        bytes.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], (ushort)endPoint.Port);
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes, AF_INET);
            endPoint.Address.TryWriteBytes(bytes.Slice(4, 4), out _);
            return 16;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(bytes, AF_INET6);
        endPoint.Address.TryWriteBytes(bytes.Slice(8, 16), out _);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[24..], (uint)endPoint.Address.ScopeId);
        return 28;
    }

    /// <summary>Reads a sockaddr the kernel wrote; null for a family other than IPv4 and IPv6.</summary>
    public static IPEndPoint? Read(SocketAddressBuffer* address)
    {
        var bytes = new ReadOnlySpan<byte>(address, sizeof(SocketAddressBuffer));
        int port = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes) switch
        {
            AF_INET => new IPEndPoint(new IPAddress(bytes.Slice(4, 4)), port),
            AF_INET6 => new IPEndPoint(new IPAddress(bytes.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..])), port),
            _ => null,
        };
    }
}
