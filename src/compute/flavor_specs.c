/*
 * flavor_specs.c - Nova's flavor extra spec validators (microversion 2.86),
 * as data: the known keys of each namespace Nova owns, with the type and the
 * range, choices or pattern of their values.  A key in one of those
 * namespaces that is not known is refused; so is a malformed value.  Keys in
 * other namespaces, and keys without one, are free.
 *
 * The tables follow the modules of nova/api/validation/extra_specs; the standard
 * resource classes come from os-resource-classes and the standard traits
 * from os-traits.  Python's patterns are rewritten as POSIX extended
 * regular expressions (\d is [0-9], \s is [[:space:]]), which match the same
 * strings; the messages show Nova's form.
 */
#include "compute/flavor.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "common/banned.h"

enum spec_type { SPEC_STR, SPEC_INT, SPEC_BOOL };

struct spec_rule {
    const char *name;    /* the key, or an ERE for the whole key when 're' */
    bool re;
    enum spec_type type;
    bool has_min, has_max;
    long long min, max;
    const char *choices; /* "a,b,c": the values allowed, or NULL */
    const char *pattern; /* an ERE the whole value must match, or NULL */
    const char *shown;   /* 'pattern' as Nova prints it */
};

#define STR(n) {n, false, SPEC_STR, false, false, 0, 0, NULL, NULL, NULL}
#define STR_RE(n) {n, true, SPEC_STR, false, false, 0, 0, NULL, NULL, NULL}
#define BOOL(n) {n, false, SPEC_BOOL, false, false, 0, 0, NULL, NULL, NULL}
#define INT(n) {n, false, SPEC_INT, false, false, 0, 0, NULL, NULL, NULL}
#define INT_MIN_(n, lo) {n, false, SPEC_INT, true, false, lo, 0, NULL, NULL, NULL}
#define INT_RE_MIN(n, lo) {n, true, SPEC_INT, true, false, lo, 0, NULL, NULL, NULL}
#define INT_RANGE(n, lo, hi) {n, false, SPEC_INT, true, true, lo, hi, NULL, NULL, NULL}
#define ENUM(n, c) {n, false, SPEC_STR, false, false, 0, 0, c, NULL, NULL}
#define PATTERN(n, ere, py) {n, false, SPEC_STR, false, false, 0, 0, NULL, ere, py}
#define PATTERN_RE(n, ere, py) {n, true, SPEC_STR, false, false, 0, 0, NULL, ere, py}

/* CPU sets such as "0-3,^2": hw:cpu_realtime_mask has the caret group. */
#define CPUSET_ERE "\\^?[0-9]+((-[0-9]+)?(,\\^?[0-9]+(-[0-9]+)?)?)*"
#define CPUSET_PY "\\^?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"

#define QUOTA_GROUP(k)                                                                         \
    INT_MIN_("quota:" k "_limit", 0), INT("quota:" k "_reservation"),                          \
        ENUM("quota:" k "_shares_level", "custom,high,normal,low"),                            \
        INT_MIN_("quota:" k "_shares_share", 0)

static const struct spec_rule rules[] = {
    /* accel */
    STR("accel:device_profile"),
    /* aggregate_instance_extra_specs */
    STR_RE("aggregate_instance_extra_specs:.+"),
    /* capabilities */
    STR("capabilities:id"), STR("capabilities:uuid"), STR("capabilities:service_id"),
    STR("capabilities:host"), STR("capabilities:vcpus"), STR("capabilities:memory_mb"),
    STR("capabilities:local_gb"), STR("capabilities:vcpus_used"),
    STR("capabilities:memory_mb_used"), STR("capabilities:local_gb_used"),
    STR("capabilities:hypervisor_type"), STR("capabilities:hypervisor_version"),
    STR("capabilities:hypervisor_hostname"), STR("capabilities:free_ram_mb"),
    STR("capabilities:free_disk_gb"), STR("capabilities:current_workload"),
    STR("capabilities:running_vms"), STR("capabilities:disk_available_least"),
    STR("capabilities:host_ip"), STR("capabilities:mapped"),
    STR("capabilities:cpu_allocation_ratio"), STR("capabilities:ram_allocation_ratio"),
    STR("capabilities:disk_allocation_ratio"), STR("capabilities:total_usable_ram_mb"),
    STR("capabilities:total_usable_disk_gb"), STR("capabilities:disk_mb_used"),
    STR("capabilities:free_disk_mb"), STR("capabilities:vcpus_total"),
    STR("capabilities:num_instances"), STR("capabilities:num_io_ops"),
    STR("capabilities:failed_builds"), STR("capabilities:aggregates"),
    STR("capabilities:cell_uuid"), STR("capabilities:updated"),
    STR_RE("capabilities:(cpu_info|metrics|stats|numa_topology|supported_hv_specs|"
           "pci_device_pools|nodename|pci_stats|supported_instances|limits|instances)"
           "(:[[:alnum:]_]+)*"),
    /* hw */
    BOOL("hw:cpu_realtime"),
    PATTERN("hw:cpu_realtime_mask", "(\\^)?[0-9]+((-[0-9]+)?(,\\^?[0-9]+(-[0-9]+)?)?)*",
            "(\\^)?\\d+((-\\d+)?(,\\^?\\d+(-\\d+)?)?)*"),
    BOOL("hw:hide_hypervisor_id"),
    ENUM("hw:cpu_policy", "dedicated,shared,mixed"),
    ENUM("hw:cpu_thread_policy", "prefer,isolate,require"),
    ENUM("hw:emulator_threads_policy", "isolate,share"),
    PATTERN("hw:cpu_dedicated_mask", CPUSET_ERE, CPUSET_PY),
    PATTERN("hw:mem_page_size", "(large|small|any|[0-9]+([kKMGT]i?)?(b|bit|B)?)",
            "(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)"),
    BOOL("hw:locked_memory"),
    INT_MIN_("hw:numa_nodes", 1),
    PATTERN_RE("hw:numa_cpus\\.[0-9]+", CPUSET_ERE, CPUSET_PY),
    INT_RE_MIN("hw:numa_mem\\.[0-9]+", 1),
    ENUM("hw:pci_numa_affinity_policy", "required,preferred,legacy,socket"),
    INT_MIN_("hw:cpu_sockets", 1), INT_MIN_("hw:cpu_cores", 1), INT_MIN_("hw:cpu_threads", 1),
    INT_MIN_("hw:cpu_max_sockets", 1), INT_MIN_("hw:cpu_max_cores", 1),
    INT_MIN_("hw:cpu_max_threads", 1),
    BOOL("hw:boot_menu"), BOOL("hw:vif_multiqueue_enabled"), BOOL("hw:mem_encryption"),
    ENUM("hw:mem_encryption_model", "amd-sev,amd-sev-es,amd-sev-snp"),
    PATTERN("hw:pmem", "([a-zA-Z0-9_]+(,)?)+", "([a-zA-Z0-9_]+(,)?)+"),
    BOOL("hw:pmu"),
    INT_MIN_("hw:serial_port_count", 0),
    ENUM("hw:tpm_model", "tpm-tis,tpm-crb"),
    ENUM("hw:tpm_version", "1.2,2.0"),
    ENUM("hw:tpm_secret_security", "user,host,deployment"),
    ENUM("hw:watchdog_action", "none,pause,poweroff,reset,disabled"),
    ENUM("hw:viommu_model", "intel,smmuv3,virtio,auto"),
    BOOL("hw:virtio_packed_ring"),
    ENUM("hw:sound_model", "sb16,es1370,pcspk,ac97,ich6,ich9,usb,virtio"),
    ENUM("hw:usb_model", "none,nec-xhci,qemu-xhci"),
    INT_RANGE("hw:redirected_usb_ports", 0, 15),
    BOOL("hw:ephemeral_encryption"),
    ENUM("hw:ephemeral_encryption_format", "plain,luks,luksv2"),
    /* hw_rng, hw_video */
    BOOL("hw_rng:allowed"), INT_MIN_("hw_rng:rate_bytes", 0), INT_MIN_("hw_rng:rate_period", 0),
    INT_MIN_("hw_video:ram_max_mb", 0),
    /* no namespace */
    BOOL("hide_hypervisor_id"),
    ENUM("group_policy", "isolate,none"),
    /* os */
    ENUM("os:secure_boot", "disabled,required"),
    /* pci_passthrough */
    PATTERN("pci_passthrough:alias",
            "[^:]+:[0-9]+([[:space:]]*,[[:space:]]*[^:]+:[0-9]+)*",
            "[^:]+:\\d+(?:\\s*,\\s*[^:]+:\\d+)*"),
    /* quota */
    QUOTA_GROUP("cpu"), QUOTA_GROUP("memory"), QUOTA_GROUP("disk_io"), QUOTA_GROUP("vif"),
    INT_MIN_("quota:cpu_shares", 0), INT_MIN_("quota:cpu_period", 0), INT("quota:cpu_quota"),
    INT_MIN_("quota:disk_read_bytes_sec", 0), INT_MIN_("quota:disk_read_iops_sec", 0),
    INT_MIN_("quota:disk_write_bytes_sec", 0), INT_MIN_("quota:disk_write_iops_sec", 0),
    INT_MIN_("quota:disk_total_bytes_sec", 0), INT_MIN_("quota:disk_total_iops_sec", 0),
    INT_MIN_("quota:vif_inbound_average", 0), INT_MIN_("quota:vif_inbound_peak", 0),
    INT_MIN_("quota:vif_inbound_burst", 0), INT_MIN_("quota:vif_outbound_average", 0),
    INT_MIN_("quota:vif_outbound_peak", 0), INT_MIN_("quota:vif_outbound_burst", 0),
    /* vmware */
    STR("vmware:hw_version"), STR("vmware:storage_policy"),
};

/* Namespaces Nova validates: a key in one of these must be known.
 * resources and trait take an optional request group suffix. */
static const char *const namespaces[] = {
    "accel", "aggregate_instance_extra_specs", "capabilities", "hw", "hw_rng", "hw_video",
    "os", "pci_passthrough", "quota", "vmware",
};
#define GROUP_ERE "([a-zA-Z0-9_-]{1,64})?"

/* os-resource-classes STANDARDS. */
static const char *const resource_classes[] = {
    "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE",
    "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU", "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU",
    "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU", "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
};

/* os-traits get_traits(), sorted. */
static const char *const traits[] = {
    "COMPUTE_ACCELERATORS", "COMPUTE_ADDRESS_SPACE_EMULATED", "COMPUTE_ADDRESS_SPACE_PASSTHROUGH",
    "COMPUTE_ARCH_AARCH64", "COMPUTE_ARCH_MIPSEL", "COMPUTE_ARCH_PPC64LE", "COMPUTE_ARCH_RISCV64",
    "COMPUTE_ARCH_S390X", "COMPUTE_ARCH_X86_64", "COMPUTE_CONFIG_DRIVE_REGENERATION",
    "COMPUTE_DEVICE_TAGGING", "COMPUTE_EPHEMERAL_ENCRYPTION", "COMPUTE_EPHEMERAL_ENCRYPTION_LUKS",
    "COMPUTE_EPHEMERAL_ENCRYPTION_LUKSV2", "COMPUTE_EPHEMERAL_ENCRYPTION_PLAIN",
    "COMPUTE_FIRMWARE_BIOS", "COMPUTE_FIRMWARE_UEFI", "COMPUTE_GRAPHICS_MODEL_BOCHS",
    "COMPUTE_GRAPHICS_MODEL_CIRRUS", "COMPUTE_GRAPHICS_MODEL_GOP", "COMPUTE_GRAPHICS_MODEL_NONE",
    "COMPUTE_GRAPHICS_MODEL_QXL", "COMPUTE_GRAPHICS_MODEL_VGA", "COMPUTE_GRAPHICS_MODEL_VIRTIO",
    "COMPUTE_GRAPHICS_MODEL_VMVGA", "COMPUTE_GRAPHICS_MODEL_XEN", "COMPUTE_IMAGE_TYPE_AKI",
    "COMPUTE_IMAGE_TYPE_AMI", "COMPUTE_IMAGE_TYPE_ARI", "COMPUTE_IMAGE_TYPE_ISO",
    "COMPUTE_IMAGE_TYPE_PLOOP", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW",
    "COMPUTE_IMAGE_TYPE_VDI", "COMPUTE_IMAGE_TYPE_VHD", "COMPUTE_IMAGE_TYPE_VHDX",
    "COMPUTE_IMAGE_TYPE_VMDK", "COMPUTE_MANAGED_PCI_DEVICE", "COMPUTE_MEM_BACKING_FILE",
    "COMPUTE_MIGRATE_AUTO_CONVERGE", "COMPUTE_MIGRATE_POST_COPY", "COMPUTE_NET_ATTACH_INTERFACE",
    "COMPUTE_NET_ATTACH_INTERFACE_WITH_TAG", "COMPUTE_NET_VIF_MODEL_E1000",
    "COMPUTE_NET_VIF_MODEL_E1000E", "COMPUTE_NET_VIF_MODEL_IGB", "COMPUTE_NET_VIF_MODEL_LAN9118",
    "COMPUTE_NET_VIF_MODEL_NE2K_PCI", "COMPUTE_NET_VIF_MODEL_NETFRONT",
    "COMPUTE_NET_VIF_MODEL_PCNET", "COMPUTE_NET_VIF_MODEL_RTL8139",
    "COMPUTE_NET_VIF_MODEL_SPAPR_VLAN", "COMPUTE_NET_VIF_MODEL_SRIOV",
    "COMPUTE_NET_VIF_MODEL_VIRTIO", "COMPUTE_NET_VIF_MODEL_VMXNET",
    "COMPUTE_NET_VIF_MODEL_VMXNET3", "COMPUTE_NET_VIRTIO_PACKED", "COMPUTE_NODE",
    "COMPUTE_REMOTE_MANAGED_PORTS", "COMPUTE_RESCUE_BFV", "COMPUTE_SAME_HOST_COLD_MIGRATE",
    "COMPUTE_SECURITY_STATELESS_FIRMWARE", "COMPUTE_SECURITY_TPM_1_2", "COMPUTE_SECURITY_TPM_2_0",
    "COMPUTE_SECURITY_TPM_CRB", "COMPUTE_SECURITY_TPM_SECRET_SECURITY_DEPLOYMENT",
    "COMPUTE_SECURITY_TPM_SECRET_SECURITY_HOST", "COMPUTE_SECURITY_TPM_SECRET_SECURITY_USER",
    "COMPUTE_SECURITY_TPM_TIS", "COMPUTE_SECURITY_UEFI_SECURE_BOOT", "COMPUTE_SHARE_LOCAL_FS",
    "COMPUTE_SOCKET_PCI_NUMA_AFFINITY", "COMPUTE_SOUND_MODEL_AC97", "COMPUTE_SOUND_MODEL_ES1370",
    "COMPUTE_SOUND_MODEL_ICH6", "COMPUTE_SOUND_MODEL_ICH9", "COMPUTE_SOUND_MODEL_PCSPK",
    "COMPUTE_SOUND_MODEL_SB16", "COMPUTE_SOUND_MODEL_USB", "COMPUTE_SOUND_MODEL_VIRTIO",
    "COMPUTE_STATUS_DISABLED", "COMPUTE_STORAGE_BUS_FDC", "COMPUTE_STORAGE_BUS_IDE",
    "COMPUTE_STORAGE_BUS_LXC", "COMPUTE_STORAGE_BUS_SATA", "COMPUTE_STORAGE_BUS_SCSI",
    "COMPUTE_STORAGE_BUS_UML", "COMPUTE_STORAGE_BUS_USB", "COMPUTE_STORAGE_BUS_VIRTIO",
    "COMPUTE_STORAGE_BUS_XEN", "COMPUTE_STORAGE_VIRTIO_FS", "COMPUTE_TRUSTED_CERTS",
    "COMPUTE_USB_MODEL_NEC_XHCI", "COMPUTE_USB_MODEL_QEMU_XHCI", "COMPUTE_VIOMMU_MODEL_AUTO",
    "COMPUTE_VIOMMU_MODEL_INTEL", "COMPUTE_VIOMMU_MODEL_SMMUV3", "COMPUTE_VIOMMU_MODEL_VIRTIO",
    "COMPUTE_VOLUME_ATTACH", "COMPUTE_VOLUME_ATTACH_WITH_TAG", "COMPUTE_VOLUME_EXTEND",
    "COMPUTE_VOLUME_MULTI_ATTACH", "HW_ARCH_AARCH64", "HW_ARCH_ALPHA", "HW_ARCH_ARMV6",
    "HW_ARCH_ARMV7", "HW_ARCH_ARMV7B", "HW_ARCH_CRIS", "HW_ARCH_I686", "HW_ARCH_IA64",
    "HW_ARCH_LM32", "HW_ARCH_M68K", "HW_ARCH_MICROBLAZE", "HW_ARCH_MICROBLAZEEL", "HW_ARCH_MIPS",
    "HW_ARCH_MIPS64", "HW_ARCH_MIPS64EL", "HW_ARCH_MIPSEL", "HW_ARCH_OPENRISC", "HW_ARCH_PARISC",
    "HW_ARCH_PARISC64", "HW_ARCH_PPC", "HW_ARCH_PPC64", "HW_ARCH_PPC64LE", "HW_ARCH_PPCEMB",
    "HW_ARCH_PPCLE", "HW_ARCH_S390", "HW_ARCH_S390X", "HW_ARCH_SH4", "HW_ARCH_SH4EB",
    "HW_ARCH_SPARC", "HW_ARCH_SPARC64", "HW_ARCH_UNICORE32", "HW_ARCH_X86_64", "HW_ARCH_XTENSA",
    "HW_ARCH_XTENSAEB", "HW_CPU_AARCH64_AES", "HW_CPU_AARCH64_ASIMD", "HW_CPU_AARCH64_ASIMDDP",
    "HW_CPU_AARCH64_ASIMDHP", "HW_CPU_AARCH64_ASIMDRDM", "HW_CPU_AARCH64_ATOMICS",
    "HW_CPU_AARCH64_CPUID", "HW_CPU_AARCH64_CRC32", "HW_CPU_AARCH64_DCPOP",
    "HW_CPU_AARCH64_EVTSTRM", "HW_CPU_AARCH64_FCMA", "HW_CPU_AARCH64_FP", "HW_CPU_AARCH64_FPHP",
    "HW_CPU_AARCH64_JSCVT", "HW_CPU_AARCH64_LRCPC", "HW_CPU_AARCH64_PMULL", "HW_CPU_AARCH64_SHA1",
    "HW_CPU_AARCH64_SHA2", "HW_CPU_AARCH64_SHA3", "HW_CPU_AARCH64_SHA512", "HW_CPU_AARCH64_SM3",
    "HW_CPU_AARCH64_SM4", "HW_CPU_AARCH64_SVE", "HW_CPU_AMD_SEV", "HW_CPU_HYPERTHREADING",
    "HW_CPU_PPC64LE_POWER8", "HW_CPU_PPC64LE_POWER9", "HW_CPU_X86_3DNOW", "HW_CPU_X86_ABM",
    "HW_CPU_X86_AESNI", "HW_CPU_X86_AMD_IBPB", "HW_CPU_X86_AMD_NO_SSB", "HW_CPU_X86_AMD_SEV",
    "HW_CPU_X86_AMD_SEV_ES", "HW_CPU_X86_AMD_SEV_SNP", "HW_CPU_X86_AMD_SSBD", "HW_CPU_X86_AMD_SVM",
    "HW_CPU_X86_AMD_VIRT_SSBD", "HW_CPU_X86_AMXBF16", "HW_CPU_X86_AMXINT8", "HW_CPU_X86_AMXTILE",
    "HW_CPU_X86_ASF", "HW_CPU_X86_AVX", "HW_CPU_X86_AVX2", "HW_CPU_X86_AVX512BITALG",
    "HW_CPU_X86_AVX512BW", "HW_CPU_X86_AVX512CD", "HW_CPU_X86_AVX512DQ", "HW_CPU_X86_AVX512ER",
    "HW_CPU_X86_AVX512F", "HW_CPU_X86_AVX512GFNI", "HW_CPU_X86_AVX512IFMA", "HW_CPU_X86_AVX512PF",
    "HW_CPU_X86_AVX512VAES", "HW_CPU_X86_AVX512VBMI", "HW_CPU_X86_AVX512VBMI2",
    "HW_CPU_X86_AVX512VL", "HW_CPU_X86_AVX512VNNI", "HW_CPU_X86_AVX512VPCLMULQDQ",
    "HW_CPU_X86_AVX512VPOPCNTDQ", "HW_CPU_X86_BMI", "HW_CPU_X86_BMI2", "HW_CPU_X86_CLMUL",
    "HW_CPU_X86_F16C", "HW_CPU_X86_FMA3", "HW_CPU_X86_FMA4", "HW_CPU_X86_INTEL_MD_CLEAR",
    "HW_CPU_X86_INTEL_PCID", "HW_CPU_X86_INTEL_SPEC_CTRL", "HW_CPU_X86_INTEL_SSBD",
    "HW_CPU_X86_INTEL_TDX", "HW_CPU_X86_INTEL_VMX", "HW_CPU_X86_MMX", "HW_CPU_X86_MPX",
    "HW_CPU_X86_PDPE1GB", "HW_CPU_X86_SGX", "HW_CPU_X86_SHA", "HW_CPU_X86_SSE", "HW_CPU_X86_SSE2",
    "HW_CPU_X86_SSE3", "HW_CPU_X86_SSE41", "HW_CPU_X86_SSE42", "HW_CPU_X86_SSE4A",
    "HW_CPU_X86_SSSE3", "HW_CPU_X86_STIBP", "HW_CPU_X86_SVM", "HW_CPU_X86_TBM", "HW_CPU_X86_TSX",
    "HW_CPU_X86_VMX", "HW_CPU_X86_XOP", "HW_GPU_API_DIRECT2D", "HW_GPU_API_DIRECT3D_V10_0",
    "HW_GPU_API_DIRECT3D_V10_1", "HW_GPU_API_DIRECT3D_V11_0", "HW_GPU_API_DIRECT3D_V11_1",
    "HW_GPU_API_DIRECT3D_V11_2", "HW_GPU_API_DIRECT3D_V11_3", "HW_GPU_API_DIRECT3D_V12_0",
    "HW_GPU_API_DIRECT3D_V6_0", "HW_GPU_API_DIRECT3D_V7_0", "HW_GPU_API_DIRECT3D_V8_0",
    "HW_GPU_API_DIRECT3D_V8_1", "HW_GPU_API_DIRECT3D_V9_0", "HW_GPU_API_DIRECT3D_V9_0B",
    "HW_GPU_API_DIRECT3D_V9_0C", "HW_GPU_API_DIRECT3D_V9_0L", "HW_GPU_API_DIRECTX_V10",
    "HW_GPU_API_DIRECTX_V11", "HW_GPU_API_DIRECTX_V12", "HW_GPU_API_DXVA",
    "HW_GPU_API_OPENCL_V1_0", "HW_GPU_API_OPENCL_V1_1", "HW_GPU_API_OPENCL_V1_2",
    "HW_GPU_API_OPENCL_V2_0", "HW_GPU_API_OPENCL_V2_1", "HW_GPU_API_OPENCL_V2_2",
    "HW_GPU_API_OPENGL_V1_1", "HW_GPU_API_OPENGL_V1_2", "HW_GPU_API_OPENGL_V1_3",
    "HW_GPU_API_OPENGL_V1_4", "HW_GPU_API_OPENGL_V1_5", "HW_GPU_API_OPENGL_V2_0",
    "HW_GPU_API_OPENGL_V2_1", "HW_GPU_API_OPENGL_V3_0", "HW_GPU_API_OPENGL_V3_1",
    "HW_GPU_API_OPENGL_V3_2", "HW_GPU_API_OPENGL_V3_3", "HW_GPU_API_OPENGL_V4_0",
    "HW_GPU_API_OPENGL_V4_1", "HW_GPU_API_OPENGL_V4_2", "HW_GPU_API_OPENGL_V4_3",
    "HW_GPU_API_OPENGL_V4_4", "HW_GPU_API_OPENGL_V4_5", "HW_GPU_API_VULKAN",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_0", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_1",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_2", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V1_3",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V2_0", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V2_1",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_0", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_2",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_5", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V3_7",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_0", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_2",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V5_3", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_0",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_1", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V6_2",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_0", "HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_1",
    "HW_GPU_CUDA_COMPUTE_CAPABILITY_V7_2", "HW_GPU_CUDA_SDK_V10_0", "HW_GPU_CUDA_SDK_V6_5",
    "HW_GPU_CUDA_SDK_V7_5", "HW_GPU_CUDA_SDK_V8_0", "HW_GPU_CUDA_SDK_V9_0", "HW_GPU_CUDA_SDK_V9_1",
    "HW_GPU_CUDA_SDK_V9_2", "HW_GPU_MAX_DISPLAY_HEADS_1", "HW_GPU_MAX_DISPLAY_HEADS_2",
    "HW_GPU_MAX_DISPLAY_HEADS_4", "HW_GPU_MAX_DISPLAY_HEADS_6", "HW_GPU_MAX_DISPLAY_HEADS_8",
    "HW_GPU_RESOLUTION_W1024H600", "HW_GPU_RESOLUTION_W1024H768", "HW_GPU_RESOLUTION_W1152H864",
    "HW_GPU_RESOLUTION_W1280H1024", "HW_GPU_RESOLUTION_W1280H720", "HW_GPU_RESOLUTION_W1280H768",
    "HW_GPU_RESOLUTION_W1280H800", "HW_GPU_RESOLUTION_W1360H768", "HW_GPU_RESOLUTION_W1366H768",
    "HW_GPU_RESOLUTION_W1440H900", "HW_GPU_RESOLUTION_W1600H1200", "HW_GPU_RESOLUTION_W1600H900",
    "HW_GPU_RESOLUTION_W1680H1050", "HW_GPU_RESOLUTION_W1920H1080", "HW_GPU_RESOLUTION_W1920H1200",
    "HW_GPU_RESOLUTION_W2560H1440", "HW_GPU_RESOLUTION_W2560H1600", "HW_GPU_RESOLUTION_W320H240",
    "HW_GPU_RESOLUTION_W3840H2160", "HW_GPU_RESOLUTION_W640H480", "HW_GPU_RESOLUTION_W7680H4320",
    "HW_GPU_RESOLUTION_W800H600", "HW_NIC_ACCEL_DEFLATE", "HW_NIC_ACCEL_DIFFIEH",
    "HW_NIC_ACCEL_ECC", "HW_NIC_ACCEL_IPSEC", "HW_NIC_ACCEL_LZS", "HW_NIC_ACCEL_RSA",
    "HW_NIC_ACCEL_SSL", "HW_NIC_ACCEL_TLS", "HW_NIC_DCB_ETS", "HW_NIC_DCB_PFC", "HW_NIC_DCB_QCN",
    "HW_NIC_MULTIQUEUE", "HW_NIC_OFFLOAD_FDF", "HW_NIC_OFFLOAD_GENEVE", "HW_NIC_OFFLOAD_GRE",
    "HW_NIC_OFFLOAD_GRO", "HW_NIC_OFFLOAD_GSO", "HW_NIC_OFFLOAD_L2CRC", "HW_NIC_OFFLOAD_LRO",
    "HW_NIC_OFFLOAD_LSO", "HW_NIC_OFFLOAD_QINQ", "HW_NIC_OFFLOAD_RDMA", "HW_NIC_OFFLOAD_RX",
    "HW_NIC_OFFLOAD_RXHASH", "HW_NIC_OFFLOAD_RXVLAN", "HW_NIC_OFFLOAD_SCS", "HW_NIC_OFFLOAD_SG",
    "HW_NIC_OFFLOAD_SWITCHDEV", "HW_NIC_OFFLOAD_TCS", "HW_NIC_OFFLOAD_TSO", "HW_NIC_OFFLOAD_TX",
    "HW_NIC_OFFLOAD_TXUDP", "HW_NIC_OFFLOAD_TXVLAN", "HW_NIC_OFFLOAD_UCS", "HW_NIC_OFFLOAD_UFO",
    "HW_NIC_OFFLOAD_VXLAN", "HW_NIC_PROGRAMMABLE_PIPELINE", "HW_NIC_SRIOV",
    "HW_NIC_SRIOV_MULTIQUEUE", "HW_NIC_SRIOV_QOS_RX", "HW_NIC_SRIOV_QOS_TX",
    "HW_NIC_SRIOV_TRUSTED", "HW_NIC_VMDQ", "HW_NUMA_ROOT", "HW_NVME_BES", "HW_NVME_CES",
    "HW_NVME_WZS", "HW_PCI_LIVE_MIGRATABLE", "HW_PCI_ONE_TIME_USE", "MISC_SHARES_VIA_AGGREGATE",
    "OWNER_CYBORG", "OWNER_NOVA", "STORAGE_DISK_HDD", "STORAGE_DISK_SSD",
};

/* True when the whole of 's' matches the ERE 're'. */
static bool full_match(const char *re, const char *s)
{
    struct st_buf anchored = ST_BUF_INIT;
    regex_t rx;
    bool ok = false;
    st_buf_addf(&anchored, "^(%s)$", re);
    if (regcomp(&rx, anchored.buf, REG_EXTENDED | REG_NOSUB) == 0) {
        ok = regexec(&rx, s, 0, NULL, 0) == 0;
        regfree(&rx);
    }
    st_buf_release(&anchored);
    return ok;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static bool in_choices(const char *s, const char *choices)
{
    size_t n = strlen(s);
    for (const char *p = choices; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, s, n))
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

/* Python's int(): surrounding blanks, a sign, digits.  Returns 0 with *v,
 * 1 when it is an integer too large for int64 (sign in *v: -1 or 1), -1 when
 * it is not an integer. */
static int py_int(const char *s, long long *v)
{
    char buf[64];
    size_t len;
    int64_t n;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        goto big;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (st_parse_i64(buf, INT64_MIN, INT64_MAX, &n) == 0) {
        *v = n;
        return 0;
    }
big:
    /* Too long for int64, or not a number at all. */
    {
        size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
        if (len <= i)
            return -1;
        for (size_t j = i; j < len; j++)
            if (s[j] < '0' || s[j] > '9')
                return -1;
        *v = s[0] == '-' ? -1 : 1;
        return 1;
    }
}

static bool py_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "t", "true", "on", "y", "yes"};
    static const char *const no[] = {"0", "f", "false", "off", "n", "no"};
    char buf[16];
    size_t len;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
        len--;
    if (len >= sizeof(buf))
        return false;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char) ((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    buf[len] = '\0';
    for (size_t i = 0; i < ST_ARRAY_SIZE(yes); i++) {
        if (!strcmp(buf, yes[i]))
            return (*out = true);
        if (!strcmp(buf, no[i])) {
            *out = false;
            return true;
        }
    }
    return false;
}

static int check_value(const struct spec_rule *r, const char *value, struct st_err *err)
{
    long long n;
    bool b;
    int rc;

    switch (r->type) {
    case SPEC_INT:
        rc = py_int(value, &n);
        if (rc < 0) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Validation failed; '%s' is not a valid integer value.", value);
            return -1;
        }
        if (r->has_max && (rc == 1 ? n > 0 : n > r->max)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Validation failed; '%s' is greater than the max value of '%lld'.", value,
                       r->max);
            return -1;
        }
        if (r->has_min && (rc == 1 ? n < 0 : n < r->min)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Validation failed; '%s' is less than the min value of '%lld'.", value,
                       r->min);
            return -1;
        }
        return 0;
    case SPEC_BOOL:
        if (!py_bool(value, &b)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Validation failed; '%s' is not a valid boolean-like value.", value);
            return -1;
        }
        return 0;
    case SPEC_STR:
        if (r->pattern && !full_match(r->pattern, value)) {
            st_err_set(err, ST_ERR_BAD_REQUEST,
                       "Validation failed; '%s' is not of the format '%s'.", value, r->shown);
            return -1;
        }
        if (r->choices && !in_choices(value, r->choices)) {
            struct st_buf list = ST_BUF_INIT;
            for (const char *p = r->choices; *p; p++)
                if (*p == ',')
                    st_buf_adds(&list, ", ");
                else
                    st_buf_addch(&list, *p);
            st_err_set(err, ST_ERR_BAD_REQUEST, "Validation failed; '%s' is not one of: %s.",
                       value, list.buf);
            st_buf_release(&list);
            return -1;
        }
        return 0;
    }
    return 0;
}

/* resources[GROUP]:CLASS and trait[GROUP]:TRAIT.  Returns 1 when 'key' is
 * one (and checks the value), 0 when not, -1 on a bad value. */
static int check_placement(const char *key, const char *value, struct st_err *err)
{
    static const struct spec_rule amount = INT("resources"); /* no range: Nova's */
    static const struct spec_rule want = ENUM("trait", "required,forbidden");
    const char *colon = strchr(key, ':');
    const char *rest;
    if (!colon)
        return 0;
    rest = colon + 1;
    if (!strncmp(key, "resources", 9) && full_match("resources" GROUP_ERE ":.*", key)) {
        if (!in_list(rest, resource_classes, ST_ARRAY_SIZE(resource_classes)) &&
            !full_match("CUSTOM_[A-Z0-9_]+", rest))
            return 0;
        return check_value(&amount, value, err) < 0 ? -1 : 1;
    }
    if (!strncmp(key, "trait", 5) && full_match("trait" GROUP_ERE ":.*", key)) {
        if (!in_list(rest, traits, ST_ARRAY_SIZE(traits)) &&
            !full_match("CUSTOM_[A-Z0-9_]+", rest))
            return 0;
        return check_value(&want, value, err) < 0 ? -1 : 1;
    }
    return 0;
}

static bool known_namespace(const char *key)
{
    const char *colon = strchr(key, ':');
    char ns[256];
    size_t len;
    if (!colon)
        return false;
    len = (size_t) (colon - key);
    if (len >= sizeof(ns))
        return false;
    memcpy(ns, key, len);
    ns[len] = '\0';
    return in_list(ns, namespaces, ST_ARRAY_SIZE(namespaces)) ||
           full_match("resources" GROUP_ERE, ns) || full_match("trait" GROUP_ERE, ns);
}

int flavor_spec_validate(const char *key, const char *value, struct st_err *err)
{
    int rc;
    /* As Nova: an exact name first, then the patterned names. */
    for (size_t i = 0; i < ST_ARRAY_SIZE(rules); i++)
        if (!rules[i].re && !strcmp(rules[i].name, key))
            return check_value(&rules[i], value, err);
    for (size_t i = 0; i < ST_ARRAY_SIZE(rules); i++)
        if (rules[i].re && full_match(rules[i].name, key))
            return check_value(&rules[i], value, err);
    rc = check_placement(key, value, err);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (!known_namespace(key))
        return 0;
    st_err_set(err, ST_ERR_BAD_REQUEST,
               "Validation failed; extra spec '%s' does not appear to be a valid extra spec.",
               key);
    return -1;
}
